"""rotator: keeps Azure's root CAs in every trust store your clients read."""

__version__ = "0.1.0"
