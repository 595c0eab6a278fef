"""Errors of the points book, in one tree.

    RedbandError (engine.errors)
      PointsError              base of the points book's errors
        InvalidCredit          a credit the book cannot take (a negative or non-finite duration, a reason no rule earns)
        CreditConflict         the same earning (volunteer, reason, reference) credited again with other content
        ShopRefused            an administrator's change the shop refuses (unknown item, stock below zero, bad price)
        PointsJournalCorrupt   journaled rows that do not fold back into a consistent book; names the row

A redemption request is never an error: its refusals are outcomes (``protocols.points.RedemptionStatus``).
"""

from __future__ import annotations

from engine.errors import RedbandError


class PointsError(RedbandError):
    """Base of the points book's errors."""


class InvalidCredit(PointsError):
    pass


class CreditConflict(PointsError):
    pass


class ShopRefused(PointsError):
    pass


class PointsJournalCorrupt(PointsError):
    pass
