"""Gold prices, product details (weight, certificate), counter services and member profiles."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sandbox_crm.models import SandboxBase


class GoldPrice(SandboxBase):
    """The day's selling price of 999.9 gold, by which gold pieces are priced."""

    __tablename__ = "gold_price"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hkd_per_tael: Mapped[int] = mapped_column(Integer)
    hkd_per_gram: Mapped[int] = mapped_column(Integer)


class ProductDetail(SandboxBase):
    """What makes a piece of jewellery: metal, weight, stone and its grading certificate."""

    __tablename__ = "product_detail"

    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), primary_key=True)
    metal: Mapped[str] = mapped_column(String(24), default="")
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    priced_by_weight: Mapped[bool] = mapped_column(Boolean, default=False)
    stone: Mapped[str] = mapped_column(String(24), default="")
    certificate_lab: Mapped[str] = mapped_column(String(16), default="")
    certificate_no: Mapped[str] = mapped_column(String(24), default="")


class ServiceOffering(SandboxBase):
    """A counter service: repair, resizing, cleaning, valuation, engraving, warranty."""

    __tablename__ = "service_offering"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    price_hkd: Mapped[int] = mapped_column(Integer)
    identity_check: Mapped[bool] = mapped_column(Boolean, default=False)


class MemberProfile(SandboxBase):
    """What a member chose to tell on the membership form: age band, interest in bridal pieces."""

    __tablename__ = "member_profile"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    age_band: Mapped[str | None] = mapped_column(String(8))
    bridal_interest: Mapped[bool] = mapped_column(Boolean, default=False)
