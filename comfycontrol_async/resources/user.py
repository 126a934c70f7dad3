"""``cc.user``: the caller's own profile (``GET /v1/user``)."""

from .._config import NOT_GIVEN, NotGiven
from .._converter import decode
from ..models import User
from ._base import Resource


class UserResource(Resource):
    """The account the token belongs to; any call with a bad token gets AuthenticationError."""

    _segment = "user"

    async def get(self, *, deadline: float | NotGiven | None = NOT_GIVEN) -> User:
        """Fetch the caller's profile, tier included."""
        return decode(await self._call("GET", deadline=deadline), User)
