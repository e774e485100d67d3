"""Coupons and the discounts they give subscriptions: a DISCOUNT line before tax."""
