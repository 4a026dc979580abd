"""The public API against its own OpenAPI schema: no server error, every response as documented.

Schemathesis calls the ASGI app in process (it runs the app's lifespan on a thread of its own), on a
seeded SQLite file of the test's own: no server process.
"""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar import Litestar
from schemathesis.python import asgi

from board.app import create_app
from board.domain.seeding import seed_file
from tests import conftest


async def _prepare(tmp_path: Path) -> None:
    """Migrate and seed with an app of its own, closed before the tested app starts."""
    app = create_app(conftest.test_settings(tmp_path))
    ctx = app.state.board
    try:
        await ctx.db.upgrade()
        await seed_file(ctx, conftest.DEMO_SEED)
    finally:
        await ctx.db.dispose()
        await ctx.live.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Litestar]:
    asyncio.run(_prepare(tmp_path))
    app = create_app(conftest.test_settings(tmp_path))
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()


def test_every_api_operation_keeps_to_its_schema(app: Litestar) -> None:
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/events/{slug}", "/api/threads/{thread_id}/answers"}
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            nonlocal calls
            response = case.call()
            calls += 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
            case.validate_response(response)

        check()
    assert calls >= len(operations), "every operation was called"
