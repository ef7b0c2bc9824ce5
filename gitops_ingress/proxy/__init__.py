"""The data plane: an asyncio HTTP/1.1 reverse proxy on httptools that serves stable and preview hosts."""
