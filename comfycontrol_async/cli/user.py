"""``comfycontrol whoami``: the account the token belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._args import command

if TYPE_CHECKING:
    from ._context import Ctx

__all__ = ["register"]


async def whoami(ctx: Ctx) -> int:
    from ._context import plain, when

    async with ctx.client() as cc:
        user = await cc.user.get()
    rows = [
        ("id", user.id),
        ("name", user.name),
        ("email", user.email),
        ("tier", user.tier),
        ("provider", user.provider or "-"),
        ("created", when(user.created_at)),
    ]
    return ctx.print_record(plain(user), rows)


def register(sub: Any, common: Any) -> None:
    command(sub, common, "whoami", whoami, help="show the account the token belongs to")
