"""Skip silence: a memo with a long pause offers it, with the time it saves; turned on,
the player jumps over the pause the server marked."""

from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import expect

from tests import audio_samples
from tests.process import ServerProcess
from tests.support.browser import PHONE, axe, no_horizontal_overflow
from tests.web.seed import pair_with_a_memo
from tests.web.test_coach_on_a_phone import sign_in

# Each change of the seek slider's position, as the page saw it (seconds).
WATCH = """() => {
  window.positions = [];
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.target.matches('[data-testid=seek]')) {
        window.positions.push(Number(c.target.getAttribute('aria-valuenow')));
      }
    }
  }).observe(document.body, { attributes: true, subtree: true,
             attributeFilter: ['aria-valuenow'] });
}"""


async def test_skip_silence_jumps_over_the_pause(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    memo = audio_samples.speech_with_pause(samples).read_bytes()
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=60) as api:
        _, _, gid, _ = await pair_with_a_memo(api, memo)

    page = await person(PHONE, bypass_csp=True)
    await sign_in(page, "amy")
    await page.goto(f"/#/g/{gid}")
    skip = page.get_by_test_id("skip-silence")
    await expect(skip).to_have_text("Skip silence (saves 0:04)")
    await expect(skip).to_have_attribute("aria-pressed", "false")
    await skip.click()
    await expect(skip).to_have_attribute("aria-pressed", "true")
    await no_horizontal_overflow(page)
    assert await axe(page) == []

    await page.evaluate(WATCH)
    await page.get_by_role("button", name="Play voice memo from Ben Coach").click()
    await page.wait_for_function("() => window.positions.some((s) => s >= 17)", timeout=40_000)
    seen = await page.evaluate("window.positions")
    jumps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert max(jumps) >= 3, f"the 4 s pause was skipped: {seen}"
    await page.reload()
    await expect(page.get_by_test_id("skip-silence")).to_have_attribute("aria-pressed", "true")
