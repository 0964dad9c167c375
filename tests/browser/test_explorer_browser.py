"""The guidance explorer as a person uses it: JupyterLab in headless Chromium (``make browser-test``).

Not part of ``make test`` (pyproject's addopts ignore tests/browser). Starts JupyterLab on a free
localhost port (no token, a temporary root and cache), opens a notebook holding only the
explorer cell (smoke profile), runs it, drags the s_I, s_p and steps sliders and presses the
paper-demo button, and checks after each that the picture's bytes and the branch-weights label
change; then picks the second subject. Saves figures/explorer_browser.png. Needs /usr/bin/chromium
and /usr/bin/chromedriver (Debian's chromium and chromium-driver) and selenium (the ``browser``
extra); downloads nothing.
"""
from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOT = ROOT / "figures" / "explorer_browser.png"
NOTEBOOK = '''# %%
from dreampose.evaluate.experiments import evaluated_videos
from dreampose.notebook import setup
from dreampose.widgets import subject_explorer

nb = setup("smoke", output_dir="figures")
explorer = subject_explorer(nb.run, evaluated_videos(nb.profile, nb.world))
explorer
'''
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1300")

if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
    pytest.skip("needs Debian's chromium and chromium-driver (make browser-test installs them)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium: pip install -e '.[browser]'")
from selenium.common.exceptions import (ElementNotInteractableException, StaleElementReferenceException,  # noqa: E402
                                        TimeoutException)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, folder) of a JupyterLab serving a folder with explorer.ipynb; the smoke models built first."""
    import jupytext

    folder = tmp_path_factory.mktemp("lab")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "JUPYTERLAB_WORKSPACES_DIR": str(folder / ".workspaces"), "JUPYTER_CONFIG_DIR": str(folder / ".config"),
           "JUPYTER_RUNTIME_DIR": str(folder / ".runtime"),
           "DREAMPOSE_THREADS": "1"}
    labconfig = folder / ".config" / "labconfig"  # no "get notified about Jupyter news?" toast
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    notebook = jupytext.reads(NOTEBOOK, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(notebook, folder / "explorer.ipynb")
    build = "\n".join(line for line in NOTEBOOK.splitlines() if not line.startswith(("#", "explorer"))) + \
        "\nfrom dreampose.explorer import subject_clips\nsubject_clips(nb.run, evaluated_videos(nb.profile, " \
        "nb.world)[0]).precompute()\n"
    subprocess.run([sys.executable, "-c", build], cwd=folder, env=env, check=True)  # models + grid into the cache
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--allow-root", "--IdentityProvider.token=", f"--ServerApp.root_dir={folder}",
         "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=folder, env=env, stdout=open(folder / "lab.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("JupyterLab exited:\n" + (folder / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield url, folder
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def picture(driver) -> bytes:
    """The bytes of the explorer's picture (the widget's <img>, a blob: URL)."""
    data = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const img = document.querySelector('.jp-OutputArea img.widget-image') || "
        "document.querySelector('.jp-OutputArea img');"
        "if (!img || !img.src) { done(''); return; }"
        "fetch(img.src).then(r => r.arrayBuffer()).then(b => {"
        "  let s = ''; const a = new Uint8Array(b); for (let i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);"
        "  done(btoa(s)); });")
    return base64.b64decode(data)


def label(driver, klass: str) -> str:
    """Text of the explorer's HTML widget whose text contains ``klass``."""
    for el in driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea .widget-html"):
        if klass in el.text:
            return el.text
    return ""


def changed(driver, before_picture: bytes, before_weights: str, timeout: float = 120):
    """Wait until both the picture and the weights label differ from before (or the status says so)."""
    WebDriverWait(driver, timeout, 0.3).until(
        lambda d: picture(d) not in (b"", before_picture) and label(d, "branch weights") != before_weights)
    return picture(driver), label(driver, "branch weights")


def slider(driver, description: str):
    for el in driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea .widget-slider"):
        if el.find_element(By.CSS_SELECTOR, ".widget-label").text.startswith(description):
            return el
    raise AssertionError(f"no slider {description!r}")


def drag(driver, description: str, pixels: int) -> str:
    """Drag a slider's handle by ``pixels`` as a mouse would; its new readout."""
    el = slider(driver, description)
    old = el.find_element(By.CSS_SELECTOR, ".widget-readout").text
    ActionChains(driver).drag_and_drop_by_offset(el.find_element(By.CSS_SELECTOR, ".noUi-handle"), pixels, 0).perform()
    WebDriverWait(driver, 10).until(lambda d: slider(d, description).find_element(
        By.CSS_SELECTOR, ".widget-readout").text != old)
    return slider(driver, description).find_element(By.CSS_SELECTOR, ".widget-readout").text


def run_first_cell(browser, tries: int = 3) -> None:
    """Click into the first cell and press Shift+Enter, until its prompt shows it ran or runs."""
    for _ in range(tries):
        WebDriverWait(browser, 60, 1, ignored_exceptions=(StaleElementReferenceException,
                                                          ElementNotInteractableException)).until(
            lambda d: d.find_element(By.CSS_SELECTOR, ".jp-Cell .jp-InputArea-editor").click() or True)
        ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        try:
            WebDriverWait(browser, 20, 0.5).until(lambda d: d.find_element(
                By.CSS_SELECTOR, ".jp-Cell .jp-InputPrompt").text.strip() not in ("", "[ ]:"))
            return
        except TimeoutException:
            continue
    raise AssertionError(f"the explorer cell did not run after {tries} tries of Shift+Enter")


def test_explorer_in_jupyterlab(lab, browser):
    try:
        use_explorer(*lab, browser)
    except Exception:
        browser.save_screenshot(str(lab[1] / "failure.png"))
        print(f"failure screenshot: {lab[1] / 'failure.png'}")
        raise


def use_explorer(url, folder, browser):
    start = time.perf_counter()
    browser.get(f"{url}/lab/tree/explorer.ipynb")
    WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"))
    WebDriverWait(browser, 120, 0.5).until(lambda d: "Idle" in d.find_element(By.ID, "jp-main-statusbar").text)
    run_first_cell(browser)
    WebDriverWait(browser, 240, 0.5).until(lambda d: picture(d) != b"" and label(d, "branch weights"))
    weights = label(browser, "branch weights")
    assert "single CFG on (c_I, c_p)" in weights  # the smoke profile samples at s_I = s_p = 3
    shown = picture(browser)

    assert drag(browser, "s_I", 60) != "3.00"
    shown, weights = changed(browser, shown, weights)
    assert "single CFG" not in weights
    assert drag(browser, "s_p", -60) != "3.00"
    shown, weights = changed(browser, shown, weights)
    steps = label(browser, "steps")
    drag(browser, "steps", 40)
    WebDriverWait(browser, 120, 0.3).until(lambda d: picture(d) != shown and label(d, "steps") != steps)
    shown = picture(browser)

    button = next(b for b in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea button") if "paper demo" in b.text)
    button.click()
    shown, weights = changed(browser, shown, weights)
    assert "eps(∅,∅) × -7, eps(c_I,∅) × 5, eps(c_I,c_p) × 3" in weights
    assert slider(browser, "s_I").find_element(By.CSS_SELECTOR, ".widget-readout").text == "8.00"

    menu = Select(browser.find_element(By.CSS_SELECTOR, ".jp-OutputArea .widget-dropdown select"))
    assert [o.text for o in menu.options][:2] == ["test_000", "test_001"]
    menu.select_by_visible_text("test_001")  # its models are trained and its grid rendered now
    WebDriverWait(browser, 300, 0.5).until(lambda d: label(d, "steps").startswith("test_001:") and picture(d) != shown)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    print(f"browser session {time.perf_counter() - start:.1f} s; screenshot {SCREENSHOT}")
    shutil.copy(SCREENSHOT, folder / SCREENSHOT.name)
