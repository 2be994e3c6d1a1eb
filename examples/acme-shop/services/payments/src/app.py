def charge(amount_cents: int) -> str:
    return f"charged {amount_cents}"
