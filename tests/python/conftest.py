"""Shared fixtures: one moto_server and one gateway for the session."""

import pytest

from harness import Gateway, Moto


@pytest.fixture(scope="session")
def moto():
    server = Moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(moto):
    gw = Gateway(moto.url, moto.access_key_id, moto.secret_access_key)
    yield gw
    gw.stop()
