"""``redband status`` shows the console gateway actor: where it serves, its starts, or that it is not answering."""

from __future__ import annotations

from redband.status import print_status

ENGINE = {"namespace": "redband", "engine": {"city": "demo", "journal_dir": "/j"}, "hosts": [], "bridges": []}


def test_the_gateway_line_says_where_it_serves_and_how_often_it_started(capsys):
    print_status(dict(ENGINE, gateway={"starts": 2, "answering": True, "url": "http://0.0.0.0:8080/",
                                       "node_id": "abcdef0123456789", "pid": 42, "consoles": 3}))
    assert "console-gateway        starts 2  http://0.0.0.0:8080/ node abcdef012345 pid 42, 3 consoles" in \
        capsys.readouterr().out
    print_status(dict(ENGINE, gateway={"starts": 3, "answering": False, "error": "restarting"}))
    assert "console-gateway        starts 3  not answering: restarting" in capsys.readouterr().out
    print_status(dict(ENGINE, gateway=None))
    assert "console-gateway" not in capsys.readouterr().out
