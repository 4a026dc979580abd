"""A serving worker holds a thousand live streams: it must not carry libraries that only other processes
use (numpy and scikit-learn compute opinion groups in their own process, Alembic migrates before the
server starts, coredis is a Redis client the board does not use)."""

import subprocess
import sys

from tests.conftest import ROOT

NOT_IN_A_WORKER = ("numpy", "scipy", "sklearn", "coredis", "alembic")

WORKER = """
import asyncio, os, subprocess, sys, tempfile
from board.app import create_app
from board.domain.similar import ThreadIndex
from board.settings import Settings

async def main():
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/board.sqlite3"
        migrate = [sys.executable, "-m", "board.cli", "db", "upgrade"]
        env = {**os.environ, "BOARD_DATABASE_URL": url, "BOARD_SECRET_KEY": "footprint-test-secret-key"}
        subprocess.run(migrate, env=env, check=True, capture_output=True)
        app = create_app(Settings(
            database_url=url,
            redis_url="redis://127.0.0.1:6379/0",
            redis_prefix="test-footprint:",
            secret_key="footprint-test-secret-key",
        ))
        async with app.lifespan():
            await asyncio.sleep(0.5)
            index = ThreadIndex.fit([1, 2], ["Des pistes cyclables partout", "Plus de trains le soir"])
            assert index.closest("des pistes cyclables sécurisées") == [(1, 0.863)]
    print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))

asyncio.run(main())
"""


def test_a_worker_with_redis_and_similar_answers_loads_no_numpy_scikit_learn_coredis_or_alembic() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WORKER], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "board" in loaded and "redis" in loaded
    assert loaded.isdisjoint(NOT_IN_A_WORKER), sorted(loaded & set(NOT_IN_A_WORKER))
