"""Imports every table module so that ``SQLModel.metadata`` (and Alembic) see the whole schema.

Tables live beside the code that owns them; add the module here when you add a table.
"""

from sqlmodel import SQLModel

import gateway.auth.tables  # noqa: F401
import gateway.ratelimit  # noqa: F401 - rate_buckets
import gateway.review.tables  # noqa: F401
import provenance.ledger.tables  # noqa: F401
import provenance.tables  # noqa: F401
import safety.image.tables  # noqa: F401

metadata = SQLModel.metadata
