"""Testing support: :class:`FakeComfyControl`, an in-process ComfyControl API server.

The fake speaks every endpoint of the ComfyControl API from memory, on ``127.0.0.1`` and a free
port, with the documented validation, errors, tiers, pagination and workflow lifecycle, a seeded
and realistic managed fleet, and knobs to inject faults and load. Importing this package never
imports pytest. Use it in your own tests::

    from comfycontrol_async import ComfyControl
    from comfycontrol_async.testing import FakeComfyControl

    async with FakeComfyControl(managed_runners=3) as fake:
        async with ComfyControl(token=fake.token("pro"), base_url=fake.url) as cc:
            assert len(await cc.managed_runners.list().collect()) == 3

or opt in to the pytest plugin (``pytest_plugins = ["comfycontrol_async.testing.pytest_plugin"]``
in a conftest.py) for the ``comfy_fake`` and ``comfy_client`` fixtures.

What it serves:

- One default user per tier (``fake.token("free" | "plus" | "pro" | "enterprise")``); the pro
  user is the documented example user. ``add_user`` makes more (``expired=True`` gives 401).
- A managed fleet (``managed_runners=``, default 12): the first runner and its first stats are the
  documented examples; the rest are H100/A100/L40S/RTX 4090/RTX 3090/... machines, some
  multi-GPU, one CPU-only and one Apple ``mps``, running ComfyUI releases from 2023 to now, each
  with the ``/system_stats`` keys its release sends. Free memory varies per call, by seed.
  ``plus`` users see ``plus`` runners only; ``pro`` and ``enterprise`` see all.
- Own runners (``runners=`` per default user, or ``add_runner``): seeded ones point nowhere (their
  stats and interrupt answer 500 without touching the network); added ones fetch
  ``{endpoint}/system_stats`` live with their headers, unless given fixed ``stats=``.
- Workflows that move ``accepted`` → ``uploaded`` → ``queued`` → ``running`` → ``completed`` on the
  fake clock (``advance()``, or ``clock=ManualClock()``); ``fail_next_workflow()`` makes one end
  ``failed``; ``interrupt`` turns running workflows ``failed``; ``cancel`` (only queued/running)
  makes them ``cancelled``. Outputs (completed only, else 400) are signed URLs on the fake's
  ``/storage/...`` route: no token needed (a token is refused with 400), 403 once expired
  (``signed_url_ttl=``, default 300 s of fake clock) or tampered with.
- Uploads over 50 MiB (``max_upload_bytes=``) get 413.

What it simulates and what it forwards: the API itself (users, tiers, validation, pagination,
rate limiting, the workflow lifecycle, outputs and their storage) is simulated in memory; a
workflow is never sent to any runner and never runs ComfyUI, its outputs are placeholder files.
Only two calls reach a runner you register with a real endpoint: its live stats and interrupt.

Fault and load knobs (``route`` is spelled as in the API's endpoint table, e.g.
``"GET /v1/managed-runner/{id}"``; see :data:`ROUTES`): ``set_latency``, ``fail_next``,
``set_error_rate``, ``rate_limit_next``, ``drop_next``, ``hang_next``, ``malformed_next``,
``enable_rate_limit`` / ``disable_rate_limit``, ``mutate_between_pages`` and ``clear_faults``.
Every request is logged in ``fake.requests``.

Registering a real ComfyUI as a runner: start ComfyUI (``python main.py --listen 127.0.0.1
--port 8188``), then ``fake.add_runner(fake.user("pro"), name="local", endpoint=
"http://127.0.0.1:8188", headers={...})``: ``GET /v1/runner/{id}/stats`` then fetches that
server's ``/system_stats`` live, with the runner's headers, and passes its JSON through
unchanged (no ``dev_mode``/``extensions`` are added); an unreachable server, a non-2xx answer or
a body that is not a JSON object gives a 500 JSON error, as the real service does.
``POST /v1/runner/{id}/interrupt`` likewise posts to its ``/interrupt``.
"""

from __future__ import annotations

from ._fake import ROUTES, FakeComfyControl, ManualClock, RecordedRequest
from ._state import FakeUser

__all__ = ["ROUTES", "FakeComfyControl", "FakeUser", "ManualClock", "RecordedRequest"]
