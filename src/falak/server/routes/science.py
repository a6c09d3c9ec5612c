"""Science products: ``GET /science/products`` lists them, ``GET /science/products/{path}``
serves one.

The products are the files ``falak science ...`` wrote under the server's products directory
(config ``science: {products_dir: PATH}``; :func:`falak.server.create_app`'s
``science_products_dir``). Any logged-in user may read them (a bearer token, no role needed:
they are not one spacecraft's). A product is a data file with its PDS4 label beside it
(``STEM.xml``) and usually a PNG quick-look; the listing gives every file with its path
relative to the directory, size, the pipeline (the first path component when the products
sit in one sub-directory per pipeline, else the name's part after the spacecraft, e.g.
``mag`` of ``orbiter-mag-map.dat``) and whether a PDS4 label exists for it. Paths are
resolved inside the directory: ``..``, absolute paths and symbolic links out of it are 404.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from falak.server.auth import User
from falak.server.routes.deps import current_user

__all__ = ["router"]

router = APIRouter(tags=["science"])

UserDep = Annotated[User, Depends(current_user)]


class ProductOut(BaseModel):
    """One file of the products directory."""

    path: str
    name: str
    pipeline: str
    size_bytes: int
    modified_ns: int
    kind: str
    pds4_label: str | None


class ProductsOut(BaseModel):
    """The products directory's files, by path."""

    products_dir: str
    products: list[ProductOut]


def _root(request: Request) -> Path:
    d = getattr(request.app.state, "science_products_dir", None)
    if d is None:
        raise HTTPException(
            404, "no science products directory: set science: {products_dir: PATH} in the config"
        )
    return Path(d).resolve()


def _kind(p: Path) -> str:
    suffix = p.suffix.lower()
    if suffix == ".xml":
        return "pds4_label"
    if suffix == ".png":
        return "quicklook"
    return "data"


def _pipeline(rel: Path) -> str:
    if len(rel.parts) > 1:
        return rel.parts[0]
    parts = rel.stem.split("-")
    return parts[1] if len(parts) > 2 else parts[0]


@router.get("/science/products", response_model=ProductsOut)
def list_products(request: Request, user: UserDep) -> ProductsOut:
    """Every file under the products directory (its path is the one to GET)."""
    root = _root(request)
    out = []
    if root.is_dir():
        for f in sorted(root.rglob("*")):
            if not f.is_file() or not f.resolve().is_relative_to(root):
                continue
            rel = f.relative_to(root)
            label = f.with_suffix(".xml")
            has_label = f.suffix.lower() != ".xml" and label.is_file()
            st = f.stat()
            out.append(
                ProductOut(
                    path=rel.as_posix(),
                    name=f.name,
                    pipeline=_pipeline(rel),
                    size_bytes=st.st_size,
                    modified_ns=st.st_mtime_ns,
                    kind=_kind(f),
                    pds4_label=label.relative_to(root).as_posix() if has_label else None,
                )
            )
    return ProductsOut(products_dir=str(root), products=out)


@router.get("/science/products/{path:path}", response_class=FileResponse)
def get_product(path: str, request: Request, user: UserDep) -> FileResponse:
    """One product file, as it is on disk (labels as XML, quick-looks as PNG)."""
    root = _root(request)
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file() or Path(path).is_absolute():
        raise HTTPException(404, f"no product {path!r} under the products directory")
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix.lower() == ".xml":
        media = "application/xml"
    return FileResponse(target, media_type=media, filename=target.name)
