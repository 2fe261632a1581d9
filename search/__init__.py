"""carematch: multilingual search and matching of foreign patients to French care offers.

The library is the product; the CLI, HTTP API and web page are thin shells over :class:`Engine`:

    from search import Engine
    engine = Engine.open("indexes/default")
    engine.search("cáncer de mama segunda opinión", limit=5)
"""
__version__ = "0.1.0"
__all__ = ["Engine", "__version__"]


def __getattr__(name: str):
    # Imported lazily so that `carematch corpus check` does not load Whoosh and the terminology.
    if name == "Engine":
        from .engine import Engine
        return Engine
    raise AttributeError(name)
