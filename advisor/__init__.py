"""China AI compliance advisor: cited answers from China's AI and data rules.

    from advisor import Advisor
    advisor = Advisor()
    answer = advisor.ask("Do we need to label AI-generated images?")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.present.advisor import Advisor

__all__ = ["Advisor"]


def __getattr__(name: str):
    if name == "Advisor":
        from advisor.present.advisor import Advisor

        return Advisor
    raise AttributeError(name)
