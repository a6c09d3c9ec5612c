"""Plans that fly the lunar orbiter: imaging stacks and downlink plans (ORBITER MDB).

:mod:`falak.planning.orbiter.commands` turns imaging opportunities (``falak orbiter imaging
--json``) into a stack of ``IMAGE_TAKE`` commands; :mod:`falak.planning.orbiter.downlink`
decides which files of the on-board file store go down in which contact, and which are lost.
Neither imports :mod:`falak.commanding` (the caller checks the stack against the MDB) nor the
other planners.
"""

from __future__ import annotations

from falak.planning.orbiter.commands import ImagePlan, image_stack, plan_images
from falak.planning.orbiter.downlink import (
    Contact,
    DownlinkPlan,
    Link,
    RecorderFile,
    dump_stack,
    plan_downlink,
)

__all__ = [
    "Contact",
    "DownlinkPlan",
    "ImagePlan",
    "Link",
    "RecorderFile",
    "dump_stack",
    "image_stack",
    "plan_downlink",
    "plan_images",
]
