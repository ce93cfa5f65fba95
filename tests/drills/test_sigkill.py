"""Drill 2, SIGKILL: under the fight's load, with timers falling due all the time, the gunicorn
master with its workers and the timer worker are SIGKILLed at random moments and restarted.

An answer lost to a kill may or may not have been applied, but at most once; everything else is
checked as in the fight, and no timer may fire twice or stay unfired once it is due.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter

import pytest

from .harness import (
    SECONDS,
    Load,
    audit_verify,
    check_answers,
    check_cases,
    check_ledger,
    check_timers,
    drill_definition,
    kill_ticks_mid_transaction,
    load_history,
    report,
    setting,
    summary,
)

pytestmark = pytest.mark.drill
CLIENTS = setting("DRILL_CLIENTS", 32, 16)
KILLS = setting("DRILL_KILLS", 10, 3)
TIMER_CASES = setting("DRILL_TIMER_CASES", 200, 60)  # parked or in review, left to their timers
WORKERS = setting("DRILL_TIMER_WORKERS", 2, 2)  # timer workers sharing the database, as in production
CASES = 20


def test_sigkill_of_server_and_timer_workers_loses_nothing(pg, tokens, open_drill_cases, spawn, seed):
    definition = drill_definition()
    cases = open_drill_cases(CASES)
    open_drill_cases(TIMER_CASES // 2, ("park",))
    open_drill_cases(TIMER_CASES - TIMER_CASES // 2, ("send",))
    server = spawn.server()
    t0 = time.time()
    tickers = [spawn.ticker(name=f"drill-tick-{i}", t0=t0) for i in range(WORKERS)]  # one virtual clock
    server.start()
    for ticker in tickers:
        ticker.start()
    load = Load(server.port, tokens, cases, definition, CLIENTS, seed, open_share=0.02)
    rng = random.Random(seed)
    started = time.monotonic()
    load.start()
    # The workers find work in bursts, once per virtual hour (the drill's timers and reminders are 1 h), and
    # are between transactions otherwise: a window longer than that holds a burst, so a kill can land in one.
    bursts_apart = 3600 / tickers[0].speed
    kills = []
    for i in range(KILLS):
        server.wait_ready()  # kill a serving server, not one still booting from the previous kill
        share = (started + SECONDS - time.monotonic()) / (KILLS - i)  # spread the kills over the time left
        time.sleep(rng.uniform(0.25, 1.0) * max(share, 0.5))
        mid, other = kill_ticks_mid_transaction(pg, tickers, within=bursts_apart * 1.5)
        server.kill()
        kills.append((round(time.monotonic() - started, 1), mid, other))
        server.start(wait=False)
    server.wait_ready()
    time.sleep(max(0.0, started + SECONDS - time.monotonic()))
    load.stop()
    elapsed = time.monotonic() - started
    for ticker in tickers:
        ticker.stop()
    server.wait_ready()
    server.stop()
    final = tickers[0].tick(tickers[0].moment())  # a worker restarted after the last kill catches up
    ticks = [t for ticker in tickers for t in ticker.ticks]
    sent = load.all()
    print(summary(sent, elapsed))
    print(f"kills at (s, ticks killed mid-transaction, otherwise): {kills}")
    print(f"tick exits: {Counter(t.returncode for t in ticks)}; final tick: {final.output.strip()}")

    history = load_history(pg)
    problems = (check_answers(sent, answers_may_be_lost=True) + check_ledger(sent, history)
                + check_cases(pg, history, definition) + check_timers(pg, history, final.now)
                + audit_verify(pg) + server.tracebacks())
    problems += [f"tick at {t.now} exited {t.returncode}: {t.output[-2000:]}"
                 for t in ticks if t.returncode not in (0, -signal.SIGKILL)]
    problems += [f"tick at {t.now} refused to fire: {t.output}" for t in ticks if "refused" in t.output]
    assert not problems, report(problems)

    # The drill drilled: it killed as often as asked, mostly mid-tick, and work went on in between.
    assert len(kills) == KILLS and server.starts == KILLS + 1
    assert sum(mid for _, mid, _ in kills) >= KILLS, kills
    assert Counter(s.status for s in sent if s.kind == "act")[200] > 0
    fired = Counter(m.action for moves in history.values() for m in moves if m.actor == "system")
    assert fired["nudge"] >= TIMER_CASES // 2 and fired["reminder"] >= TIMER_CASES // 2, fired
