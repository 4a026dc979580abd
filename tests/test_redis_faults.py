"""Redis stops in the middle of voting: nothing is lost or counted twice, and counters heal from SQL."""

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlmodel import select

from board.models import Answer
from tests.conftest import SLUG, Board, free_port, start_board

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


class OwnRedis:
    """A redis-server of the test's own, on its own port, that the test can stop and start."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
        )

    async def ready(self) -> None:
        client = Redis.from_url(self.url)
        try:
            for _ in range(100):
                try:
                    if await client.ping():
                        return
                except OSError:
                    pass
                except Exception:
                    pass
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def faulty_board(tmp_path: Path, own_redis: OwnRedis) -> AsyncIterator[Board]:
    await own_redis.ready()
    async for board in start_board(tmp_path, redis_url=own_redis.url):
        yield board


async def test_votes_survive_a_redis_outage_and_counters_heal(
    faulty_board: Board, own_redis: OwnRedis
) -> None:
    board = faulty_board
    thread_id = (await board.thread_ids())[0]
    author = await board.phone(f"/e/{SLUG}/t/{thread_id}")
    await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Avant la panne"}, htmx=True)
    async with board.ctx.db.session() as session:
        answer_id = (await session.exec(select(Answer.id))).one()
    voters = [await board.phone(f"/e/{SLUG}/t/{thread_id}") for _ in range(6)]
    for voter in voters[:3]:
        assert (
            await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
        ).status_code == 200

    own_redis.stop()
    assert (await voters[0].http.get("/readyz")).status_code == 503
    for voter in voters[3:]:
        response = await voter.submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
        assert response.status_code == 200
    again = await voters[0].submit(f"/e/{SLUG}/answers/{answer_id}/vote", {"value": "1"}, htmx=True)
    assert again.status_code == 200, "a repeated vote during the outage is still counted once"
    during = await author.submit(f"/e/{SLUG}/t/{thread_id}/answers", {"body": "Pendant la panne"}, htmx=True)
    assert during.status_code == 201
    page = await voters[1].open(f"/e/{SLUG}/t/{thread_id}")
    assert page.status_code == 200 and f'id="ag{answer_id}">6<' in page.text

    own_redis.start()
    await own_redis.ready()
    counters = board.ctx.live.counters
    for _ in range(100):
        threads = await counters.get_threads([thread_id]) if await counters.ping() else {}
        if thread_id in threads and threads[thread_id].votes == 6:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"counters did not heal: {threads}")
    assert threads[thread_id].answers == 2 and threads[thread_id].votes == 6
    async with board.ctx.db.session() as session:
        stored = await session.get(Answer, answer_id)
    assert stored is not None and stored.agree == 6
    assert (await voters[0].http.get("/readyz")).status_code == 200
