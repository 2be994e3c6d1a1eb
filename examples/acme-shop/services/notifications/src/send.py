def send(to: str, body: str) -> None:
    print(to, body)
