"""Run one alias move in this process and SIGKILL the process right after its Nth registry write.

Used by ``test_kill_alias_moves.py`` as a real child process (real MLflow on SQLite,
a real ``kill -9``): ``python killer.py URI N OP ARGS...``. ``N = 0`` never kills.
The writes counted are the three calls an alias move makes: setting a registered-model
tag (ledger entry), setting an alias and deleting an alias.

OP is ``promote MODEL VERSION REASON``, ``approve MODEL VERSION REASON``,
``rollback MODEL VERSION|- REASON`` or
``rollback-cli BUDGET_FILE REASON [--to V]`` (the real ``mlbudget rollback`` command).
"""

from __future__ import annotations

import os
import signal
import sys

WRITES = ("set_registered_model_tag", "set_registered_model_alias", "delete_registered_model_alias")


def arm(kill_after: int) -> None:
    from mlflow import MlflowClient

    count = [0]
    for name in WRITES:
        original = getattr(MlflowClient, name)

        def counted(self, *args, _original=original, **kwargs):
            out = _original(self, *args, **kwargs)
            count[0] += 1
            if count[0] == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        setattr(MlflowClient, name, counted)


def main(argv: list[str]) -> int:
    uri, kill_after, op, *rest = argv
    arm(int(kill_after))
    if op == "rollback-cli":
        from mlbudget.cli.main import app

        budget, reason, *more = rest
        args = ["rollback", "--budget", budget, "--tracking-uri", uri, "--reason", reason, *more]
        return app(args, standalone_mode=False) or 0
    from mlbudget.registry.store import MlflowRegistry

    registry = MlflowRegistry(uri)
    model, version, reason = rest
    if op == "promote":
        registry.promote(model, version, reason)
    elif op == "rollback":
        registry.rollback(model, reason, to=None if version == "-" else version)
    elif op == "approve":
        registry.approve(model, version, reason, approver="alice")
    else:
        raise SystemExit(f"unknown op {op}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
