"""`bracket serve`: the JSON API's limits, and the page driven in headless Chromium
(Debian's chromium and chromium-driver, installed by scripts/setup.sh) through selenium.

The server is the release binary, started on a free loopback port for the module."""

import concurrent.futures
import json
import os
import select
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("BRACKET_BIN", os.path.join(ROOT, "target", "release", "bracket"))
SLOW = "X: matrix(n, n); sum(sqrt(1 + X .* X)) + ln(det(X)) + tr(X^-1 X^T X^-1) + ||X X^T X - X||^2"
PROGRAM = """N, λ: scalar
A1 = X W1 + 1 b1^T
Z1 = tanh(A1)
A2 = Z1 W2 + 1 b2^T
Z2 = tanh(A2)
J = 1/(2N) (Z2 - Y) · (Z2 - Y) + λ/2 (W1 · W1 + W2 · W2)
grad J wrt W1, b1, W2, b2"""


def start_server(*args):
    proc = subprocess.Popen(
        [BINARY, "serve", "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    assert "http://127.0.0.1:" in line, line
    return proc, line.split()[2]


@pytest.fixture(scope="module")
def server():
    proc, url = start_server("--slots", "2", "--timeout", "20")
    yield url
    proc.terminate()
    assert proc.wait(timeout=10) == 0  # graceful shutdown on SIGTERM


def post(url, body, timeout=30):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + "api/query", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def post_oversized(url, size, body=True):
    """The status of a POST whose body of `size` bytes is announced with `Expect:
    100-continue` and sent only if the server asks for it. (urllib sends the whole body
    first: a server that refuses it early closes the connection mid-upload, and the client
    saw a broken pipe instead of the 413.) With `body=False` the length is declared and
    nothing more is sent: a limit checked only while reading would wait for the body
    until the client gave up."""
    u = urllib.parse.urlparse(url)
    expect = "Expect: 100-continue\r\n" if body else ""
    with socket.create_connection((u.hostname, u.port), timeout=30 if body else 10) as s:
        head = (
            f"POST /api/query HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n{expect}Connection: close\r\n\r\n"
        )
        s.sendall(head.encode())
        reader = s.makefile("rb")
        status = int(reader.readline().split()[1])
        if body and status == 100:
            while reader.readline().strip():
                pass
            # The body in pieces, stopping once the answer has come.
            sent = 0
            while sent < size and not select.select([s], [], [], 0)[0]:
                try:
                    sent += s.send(b"x" * min(65536, size - sent))
                except OSError:
                    break
            status = int(reader.readline().split()[1])
        return status


# ------------------------------------------------------------------------------ the API


def test_query_answers_like_batch(server):
    status, _, answer = post(server, {"command": "grad", "expr": "x^T A x", "wrt": ["x"], "check": True})
    assert status == 200
    d = answer["derivatives"][0]
    assert d["unicode"] == "(A + Aᵀ)x" and d["check"]["verdict"] == "verified"
    status, _, answer = post(server, {"command": "codegen", "expr": "x^T A x", "wrt": ["x"]})
    assert status == 200 and "def f_and_grad" in answer["source"]
    status, _, answer = post(server, {"command": "derive", "expr": PROGRAM})
    assert status == 200 and len(answer["derivations"]) >= 4


def test_bad_requests_get_status_codes(server):
    assert post(server, b"{not json")[0] == 400
    assert post(server, b"[1, 2]")[0] == 400
    assert post(server, {"command": "launch", "expr": "x"})[0] == 400
    status, _, answer = post(server, {"command": "grad", "expr": "x^T A x +", "wrt": ["x"]})
    assert status == 422
    assert (answer["error"]["line"], answer["error"]["column"]) == (1, 10)
    assert post_oversized(server, 2 << 20) == 413
    assert post_oversized(server, 10**10, body=False) == 413
    # Only the page's own files are served: no path reaches the file system.
    for path in ("etc/passwd", "..%2f..%2fetc%2fpasswd", "katex/../../Cargo.toml"):
        try:
            urllib.request.urlopen(server + path, timeout=10)
            raise AssertionError(f"{path} was served")
        except urllib.error.HTTPError as e:
            assert e.code == 404


def test_a_query_past_its_time_gets_a_timeout_error(server):
    start = time.perf_counter()
    status, _, answer = post(server, {"command": "grad", "expr": SLOW, "wrt": ["X"], "timeout": 0.005})
    assert status == 504
    assert answer["error"]["code"] == "E-limit"
    assert time.perf_counter() - start < 2
    # The server is still there.
    assert post(server, {"command": "simplify", "expr": "A B"})[0] == 200


def test_a_timed_out_query_frees_its_slot_at_once():
    # Each query runs in a process of its own, killed at its limit: with one slot, two
    # queries that need seconds each get 504, and the next is answered at once.
    proc, url = start_server("--slots", "1", "--timeout", "0.5")
    try:
        big = " + ".join(f"a{i}^T X X^T b{i}" for i in range(3000))
        for _ in range(2):
            status, _, answer = post(url, {"command": "grad", "expr": big, "wrt": ["X"]})
            assert status == 504 and answer["error"]["code"] == "E-limit"
        start = time.perf_counter()
        status, _, answer = post(url, {"command": "simplify", "expr": "x^T A x"})
        assert status == 200 and answer["unicode"] == "xᵀAx"
        assert time.perf_counter() - start < 2
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_fifty_concurrent_requests_are_answered_or_refused(server):
    queries = [{"command": "grad", "expr": "||A x - b||^2", "wrt": ["x"]} for _ in range(50)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda q: post(server, q), queries))
    statuses = [s for s, _, _ in results]
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses
    for status, headers, answer in results:
        if status == 503:
            assert {k.lower(): v for k, v in headers.items()}.get("retry-after") == "1"
            assert answer["error"]["code"] == "E-limit"
        else:
            assert answer["derivatives"][0]["unicode"] == "2Aᵀ(Ax − b)"
    assert post(server, {"command": "simplify", "expr": "A B"})[0] == 200


def test_examples_menu(server):
    with urllib.request.urlopen(server + "api/examples", timeout=10) as r:
        examples = json.loads(r.read())
    assert len(examples) >= 40
    assert {"name", "title", "command", "wrt", "input"} <= set(examples[0])


# ------------------------------------------------------------------------------ the page


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    chromium = shutil.which("chromium")
    if not driver_path or not chromium:
        if os.environ.get("CI"):
            pytest.fail("CI must provide chromium and chromium-driver (scripts/setup.sh installs them)")
        pytest.skip("chromium is not installed (run scripts/setup.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(driver, state, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.find_element("tag name", "body").get_attribute("data-state") == state)


def type_input(driver, text, command, wrt):
    from selenium.webdriver.support.ui import Select

    box = driver.find_element("id", "input")
    box.clear()
    box.send_keys(text)
    Select(driver.find_element("id", "command")).select_by_value(command)
    w = driver.find_element("id", "wrt")
    w.clear()
    w.send_keys(wrt)


def test_typing_a_function_renders_its_gradient(server, browser):
    start = time.perf_counter()
    browser.get(server)
    wait_for(browser, "done")
    first = time.perf_counter() - start
    print(f"\npage load to first answer: {first * 1000:.0f} ms")
    type_input(browser, "x^T A x", "grad", "x")
    time.sleep(0.4)  # past the debounce
    wait_for(browser, "done")
    answer = browser.find_element("id", "answer")
    assert answer.get_attribute("data-unicode") == "(A + Aᵀ)x"
    assert answer.find_elements("css selector", ".katex")  # rendered by KaTeX
    assert "verified" in browser.find_element("id", "check").text
    assert browser.find_element("id", "tab-text").text == "(A + Aᵀ)x"
    browser.find_element("css selector", "button[data-tab=python]").click()
    assert "def f_and_grad" in browser.find_element("id", "tab-text").text
    assert len(browser.find_elements("css selector", "#derivation li")) >= 3


def test_a_worked_example_from_the_menu(server, browser):
    from selenium.webdriver.support.ui import Select

    browser.get(server)
    wait_for(browser, "done")
    Select(browser.find_element("id", "examples")).select_by_value("derivatives/5_5_trace_inverse")
    time.sleep(0.2)
    wait_for(browser, "done")
    assert browser.find_element("id", "answer").get_attribute("data-unicode") == "−(X⁻¹BAX⁻¹)ᵀ"
    assert "X is invertible" in browser.find_element("id", "conditions").text


def test_hessian_vector_products_from_the_menu(server, browser):
    from selenium.webdriver.support.ui import Select

    browser.get("about:blank")
    browser.get(server)
    wait_for(browser, "done")
    for name in ("second/05_logistic_hvp", "second/11_program_hvp"):
        Select(browser.find_element("id", "examples")).select_by_value(name)
        time.sleep(0.2)
        wait_for(browser, "done", timeout=60)
        assert browser.find_element("id", "command").get_attribute("value") == "hvp"
        assert browser.find_element("id", "answer").find_elements("css selector", ".katex"), name
        assert "verified" in browser.find_element("id", "check").text, name


def test_an_error_shows_its_caret(server, browser):
    browser.get(server)
    wait_for(browser, "done")
    type_input(browser, "x: vector(n)\nx^T A x +", "grad", "x")
    time.sleep(0.4)
    wait_for(browser, "error")
    assert "E-syntax" in browser.find_element("id", "error-message").text
    caret = browser.find_element("id", "error-caret").text
    assert caret.splitlines()[0] == "2 │ x^T A x +"
    assert caret.splitlines()[1].endswith("^")
    assert browser.find_element("id", "error-hint").text.startswith("hint:")


def test_a_shared_url_gives_the_same_answer(server, browser):
    browser.get(server)
    wait_for(browser, "done")
    type_input(browser, "X: matrix(n, m); a: vector(n); a^T X X^T a", "grad", "X")
    time.sleep(0.4)
    wait_for(browser, "done")
    url = browser.current_url
    expected = browser.find_element("id", "answer").get_attribute("data-unicode")
    assert "#" in url and expected == "2aaᵀX"
    browser.get("about:blank")
    browser.get(url)
    wait_for(browser, "done")
    assert browser.find_element("id", "answer").get_attribute("data-unicode") == expected
    assert browser.find_element("id", "input").get_attribute("value").endswith("a^T X X^T a")


def test_screenshot_of_a_program_derivation(server, browser):
    params = urllib.parse.urlencode({"c": "grad", "w": "", "e": PROGRAM})
    browser.set_window_size(1400, 1500)
    browser.get("about:blank")
    browser.get(server + "#" + params)
    wait_for(browser, "done", timeout=60)
    assert len(browser.find_elements("css selector", "#derivation li")) >= 8
    assert "∇_{W1}J" in browser.find_element("id", "answer").get_attribute("data-unicode")
    images = os.path.join(ROOT, "docs", "images")
    os.makedirs(images, exist_ok=True)
    browser.save_screenshot(os.path.join(images, "serve.png"))
