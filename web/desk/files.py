"""Attachment storage and upload rules as the settings describe them, and image thumbnails."""

from __future__ import annotations

import importlib
import io
import os

from flask import current_app
from PIL import Image, UnidentifiedImageError

from workflow.engine.attachments import FileStorage, Rules, Scanner, Storage

THUMBNAIL = (240, 240)
# Pillow refuses larger images (a decompression bomb would otherwise take the worker's memory).
MAX_PIXELS = 40_000_000


def storage() -> Storage:
    """The attachment store: a folder (ATTACHMENT_DIR, default instance/attachments)."""
    root = current_app.config.get("ATTACHMENT_DIR") or os.path.join(current_app.instance_path, "attachments")
    return FileStorage(root)


def _scanner() -> Scanner | None:
    hook = str(current_app.config.get("ATTACHMENT_SCANNER") or "")
    if not hook:
        return None
    module, _, name = hook.partition(":")
    scanner: Scanner = getattr(importlib.import_module(module), name)
    return scanner


def rules() -> Rules:
    config = current_app.config
    types = frozenset(t.strip() for t in str(config.get("ATTACHMENT_TYPES", "")).split(",") if t.strip())
    return Rules(max_bytes=int(config["ATTACHMENT_MAX_BYTES"]), types=types, scanner=_scanner())


def thumbnail(data: bytes) -> bytes | None:
    """A small PNG of an image, re-encoded by Pillow (so nothing of the upload's own bytes is served inline);
    None when the bytes are not an image Pillow reads within its limits."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail(THUMBNAIL)
            out = io.BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        return None
    return out.getvalue()
