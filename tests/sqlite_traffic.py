"""Reads and writes on one SQLite file from several processes at once, each through connections
opened the way Django opens the site's (the file, busy timeout, PRAGMAs and CONN_MAX_AGE given on
the command line, from DATABASES["default"]): with CONN_MAX_AGE 0 each is closed after one read or
one write; otherwise each thread keeps its own for the run, as a web server's thread does.

    python tests/sqlite_traffic.py DATABASE TIMEOUT INIT_COMMAND SECONDS CONN_MAX_AGE

It prints one JSON object: {"reads": n, "writes": n, "errors": ["SQLITE_...: message"]}. Only
the standard library: a process loaded with Django and torch makes traffic too slow for a race
between processes to show within seconds.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import sqlite3
import sys
import threading
import time
from pathlib import Path

ROWS = 100_000
PROCESSES = 2
READERS = 4


def connect(database: str, timeout: float, init_command: str) -> sqlite3.Connection:
    connection = sqlite3.connect(database, timeout=timeout, isolation_level=None)
    for command in init_command.split(";"):
        if command.strip():
            connection.execute(command)
    return connection


def create(database: str) -> None:
    """The table, in the default journal mode: the processes' first connections switch the file
    to WAL while the others open it, which made the race show more often."""
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("CREATE TABLE traffic (id INTEGER PRIMARY KEY, served INTEGER, body TEXT)")
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO traffic VALUES (?, 0, ?)", ((i, "x" * 300) for i in range(1, ROWS + 1))
    )
    connection.execute("COMMIT")
    connection.close()


def traffic(
    arguments: tuple[str, float, str],
    seconds: float,
    keep: bool,
    results: multiprocessing.Queue,
) -> None:
    """READERS threads reading single rows and one writing batches, for `seconds`."""
    counts = {"reads": 0, "writes": 0}
    errors: list[str] = []
    stop = threading.Event()

    def read(connection: sqlite3.Connection) -> None:
        query = "SELECT * FROM traffic WHERE id = ?"
        connection.execute(query, (random.randint(1, ROWS),)).fetchall()
        counts["reads"] += 1

    def write(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")  # the site's transaction_mode
        for _ in range(200):
            query = "UPDATE traffic SET served = served + 1 WHERE id = ?"
            connection.execute(query, (random.randint(1, ROWS),))
        connection.execute("COMMIT")
        counts["writes"] += 1
        time.sleep(0.05)  # a worker writes a batch now and then

    def loop(work: object) -> None:
        connection = None
        while not stop.is_set():
            try:
                connection = connection or connect(*arguments)
                work(connection)  # type: ignore[operator]
            except sqlite3.Error as error:  # every failure is counted, none ends the loop
                errors.append(f"{getattr(error, 'sqlite_errorname', '?')}: {error}")
                if connection is not None and connection.in_transaction:
                    connection.rollback()  # as Django's atomic block does
            finally:
                if connection is not None and not keep:
                    connection.close()
                    connection = None
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=loop, args=(read,)) for _ in range(READERS)]
    threads.append(threading.Thread(target=loop, args=(write,)))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    results.put({**counts, "errors": errors})


def main() -> None:
    database, timeout, init_command, seconds, conn_max_age = sys.argv[1:6]
    keep = conn_max_age == "None" or float(conn_max_age) > 0
    arguments = (database, float(timeout), init_command)
    if not Path(database).exists():
        create(database)
    results: multiprocessing.Queue = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=traffic, args=(arguments, float(seconds), keep, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get() for _ in processes]
    for process in processes:
        process.join()
    print(
        json.dumps(
            {
                "reads": sum(outcome["reads"] for outcome in outcomes),
                "writes": sum(outcome["writes"] for outcome in outcomes),
                "errors": [error for outcome in outcomes for error in outcome["errors"]],
            }
        )
    )


if __name__ == "__main__":
    main()
