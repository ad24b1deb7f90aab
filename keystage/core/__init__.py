"""The domain of keystage, free of Django and HTTP: plain data in, plain data out."""
