"""One logging system: JSON lines or pretty lines, Probot's levels, context, masking, no chatter."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ghapp.app.delivery import Delivery
from ghapp.logs import bind_delivery, configure_logging, log_json

DELIVERY = Delivery("d-9", "pull_request", "opened", 7, "acme/shop", b"{}", datetime.now(UTC))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def configured(level: str = "info", log_format: str = "json", **options: object) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, log_format, stream=stream, **options)  # type: ignore[arg-type]
    return stream


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_time_level_logger_message_fields_and_delivery_context() -> None:
    stream = configured()
    with bind_delivery(DELIVERY, pull_request="12"):
        log_json(logging.getLogger("ghapp.test"), logging.INFO, "evaluated", findings=3)
    line = json.loads(stream.getvalue())
    assert line["time"].endswith("Z") and line["level"] == "info"
    assert (line["logger"], line["msg"], line["findings"]) == ("ghapp.test", "evaluated", 3)
    assert (line["delivery"], line["installation"], line["repository"], line["pr"]) == (
        "d-9",
        7,
        "acme/shop",
        "12",
    )


@pytest.mark.usefixtures("restore_logging")
def test_pretty_lines_are_for_people() -> None:
    stream = configured(log_format="pretty")
    with bind_delivery(DELIVERY):
        logging.getLogger("ghapp.test").warning("slow answer")
    line = stream.getvalue().strip()
    assert " WARN  ghapp.test: slow answer  delivery=d-9" in line
    assert "repository=acme/shop" in line and not line.startswith("{")


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("trace", {"trace", "debug", "info", "warn", "error", "fatal"}),
        ("debug", {"debug", "info", "warn", "error", "fatal"}),
        ("info", {"info", "warn", "error", "fatal"}),
        ("warn", {"warn", "error", "fatal"}),
        ("error", {"error", "fatal"}),
        ("fatal", {"fatal"}),
        ("silent", set()),
    ],
)
def test_probot_levels_filter_lines(level: str, shown: set[str]) -> None:
    stream = configured(level)
    logger = logging.getLogger("ghapp.test")
    for number in (
        5,
        logging.DEBUG,
        logging.INFO,
        logging.WARNING,
        logging.ERROR,
        logging.CRITICAL,
    ):
        logger.log(number, "line")
    assert {json.loads(x)["level"] for x in stream.getvalue().splitlines()} == shown


@pytest.mark.usefixtures("restore_logging")
def test_library_chatter_is_quiet_at_info_and_back_at_debug() -> None:
    stream = configured("info")
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("httpx").info("HTTP Request: GET https://api.github.com/app")
    assert stream.getvalue() == ""
    stream = configured("debug")
    logging.getLogger("httpx").info("HTTP Request: GET https://api.github.com/app")
    assert "HTTP Request" in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["json", "pretty"])
def test_no_line_shows_a_password_or_a_known_secret(log_format: str) -> None:
    stream = configured(log_format=log_format, secrets=["hook-secret-value"])
    logger = logging.getLogger("ghapp.test")
    logger.error("cannot connect to postgresql://u:pw@db/ghapp")
    log_json(logger, logging.ERROR, "failed", url="https://ghp_tok@ghe.example.com/api/v3")
    logger.warning("signature with hook-secret-value")
    try:
        raise ConnectionError("postgresql://u:pw@db/ghapp refused")
    except ConnectionError:
        logger.exception("traceback too")
    out = stream.getvalue()
    assert "pw@" not in out and "ghp_tok" not in out and "hook-secret-value" not in out
    assert out.count("u:***@db") == 3


@pytest.mark.usefixtures("restore_logging")
def test_a_message_that_is_a_json_object_is_merged_not_nested() -> None:
    stream = configured()
    logging.getLogger("ghapp.publish").warning(
        json.dumps({"msg": "review rejected", "error": "422"})
    )
    line = json.loads(stream.getvalue())
    assert (line["msg"], line["error"]) == ("review rejected", "422")
