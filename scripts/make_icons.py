"""Renders the web app's PNG icons from the favicon's design (app/web/favicon.svg) with
Debian's Chromium, once; the PNGs are committed. Run after changing the design:

    .venv/bin/python scripts/make_icons.py

- icon-192.png, icon-512.png ("any"): the favicon as it is, rounded corners, transparent
  outside them;
- maskable-192.png, maskable-512.png ("maskable"): the same glyph on a full-bleed square
  (the glyph already sits inside the central 80% circle that every mask keeps);
- apple-touch-icon.png (180): full bleed, iOS rounds it itself.
"""

import asyncio
import base64
import re
from pathlib import Path

from playwright.async_api import async_playwright

WEB = Path(__file__).resolve().parents[1] / "app" / "web"
ICONS = WEB / "icons"


def full_bleed(svg: str) -> str:
    return re.sub(r'<rect width="32" height="32" rx="\d+"', '<rect width="32" height="32"', svg)


async def main() -> None:
    svg = (WEB / "favicon.svg").read_text()
    wanted = {
        "icon-192.png": (svg, 192),
        "icon-512.png": (svg, 512),
        "maskable-192.png": (full_bleed(svg), 192),
        "maskable-512.png": (full_bleed(svg), 512),
        "apple-touch-icon.png": (full_bleed(svg), 180),
    }
    ICONS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        for name, (source, size) in wanted.items():
            page = await browser.new_page(viewport={"width": size, "height": size})
            data = base64.b64encode(source.encode()).decode()
            await page.set_content(
                "<style>html,body{margin:0;background:transparent}</style>"
                f'<img src="data:image/svg+xml;base64,{data}" width="{size}" height="{size}">'
            )
            await page.screenshot(path=ICONS / name, omit_background=True)
            await page.close()
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
