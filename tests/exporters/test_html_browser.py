"""The HTML report, opened in headless Chromium, shows every plane's map as a decoded image.

Chromium is Debian's (`make test` installs it where apt can); without it the test is skipped
and says why.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, bdscan

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Appended to a copy of the report: counts images and whether each decoded.
PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.setAttribute('data-probe', JSON.stringify({
    images: imgs.length,
    decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length}));
});</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        "no Chromium on this machine (Debian: apt-get install chromium); "
        "the HTML report was not rendered"
    )


def test_html_report_renders_every_map_in_a_browser(
    tmp_path: Path, digits_model: Path, digits_npz: Path
) -> None:
    browser = chromium()
    models = tmp_path / "models"
    models.mkdir()
    for name in ("a.onnx", "b.onnx"):
        shutil.copy(digits_model, models / name)
    html = tmp_path / "report.html"
    args = ["--planes", "3", "--resolution", "20", "--quiet", "--html", html]
    assert bdscan("scan", models, "--data", digits_npz, *args).exit_code == 0
    text = html.read_text()
    assert not re.search(r"""(src|href)=["']https?:""", text), "the report must be self-contained"
    probe = _rendered(browser, tmp_path, text)
    assert probe["images"] >= 2 * 3  # two models, three planes each
    assert probe["decoded"] == probe["images"]


def _rendered(browser: str, tmp_path: Path, text: str) -> dict[str, int]:
    """{"images": n, "decoded": m} of the page `text` once Chromium has loaded it."""
    probed = tmp_path / "probed.html"
    # The report's Content-Security-Policy forbids scripts (as it should); only this test copy
    # drops it, so the probe can run.
    assert "Content-Security-Policy" in text
    unlocked = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    probed.write_text(unlocked.replace("</body>", PROBE + "</body>"))
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    match = re.search(r"data-probe=\"([^\"]+)\"", dom)
    assert match, "the page did not finish loading"
    return json.loads(match.group(1).replace("&quot;", '"'))


def test_the_bundled_backdoor_shows_its_trigger_and_samples_before_and_after(
    tmp_path: Path,
) -> None:
    browser = chromium()
    root = REPO / "examples"
    html, report = tmp_path / "report.html", tmp_path / "report.json"
    code = bdscan("scan", root / "models" / "badnets_cnn.onnx", "--data",
                  root / "data" / "fmnist_clean.npz", "--planes", "2", "--quiet",
                  "--no-cache", "--html", html, "--json", report).exit_code  # fmt: skip
    assert code == 1
    example = json.loads(report.read_text())["xray"]["evidence"]["example"]
    assert example["label"] == 0 and example["source"] == "probe"
    assert example["trigger"]["family"] == "patch"
    assert len(example["samples"]) == 4
    # The BadNets stamp moves every shown sample to the target, and every class nearly always.
    assert all(s["before"] == s["true"] != 0 and s["after"] == 0 for s in example["samples"])
    assert min(r for _, r in example["per_class"]) >= 0.9
    text = html.read_text()
    section = text[text.index("<h3>Evidence</h3>") :]
    assert 'alt="the deciding trigger on a grey image"' in section
    for i in range(1, 5):
        assert (
            f'alt="clean sample {i}"' in section and f'alt="sample {i} with the trigger"' in section
        )
    assert "&rarr; label 0 with the trigger" in section and "sends to label 0" in section
    probe = _rendered(browser, tmp_path, text)
    # 1 trigger + 4 pairs + 2 planes, all decoded.
    assert probe["images"] == 1 + 8 + 2 and probe["decoded"] == probe["images"]
