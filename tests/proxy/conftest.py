"""Run ``async def`` tests of this package on a fresh event loop each, with a time limit.

Every such test runs twice: on asyncio's own loop and on uvloop (what the proxy
process uses when it is installed), since their transports differ.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

TEST_SECONDS = 60.0

try:
    import uvloop

    LOOPS = ["asyncio", "uvloop"]
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
    LOOPS = ["asyncio"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if inspect.iscoroutinefunction(metafunc.function):
        metafunc.fixturenames.append("loop_kind")
        metafunc.parametrize("loop_kind", LOOPS)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    loop_kind = str(pyfuncitem.callspec.params["loop_kind"])
    main = asyncio.wait_for(pyfuncitem.obj(**kwargs), TEST_SECONDS)
    _runner(loop_kind)(main)
    return True


def _runner(kind: str) -> Callable[[Coroutine[Any, Any, None]], None]:
    if kind == "uvloop":
        return uvloop.run
    return asyncio.run
