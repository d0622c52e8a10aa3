"""Bus logs: read CAN and RS485 captures, decode them as a stream.

`can_reader` iterates frames from any log python-can reads (candump ``.log``
through a faster tokenizer proven equal to python-can's), `lines` reads text
logs in bounded blocks, `rs485_log` defines the RS485 capture line format with
its writer and reader, `fast_decode` compiles the DBC's messages into plain
Python functions checked against cantools, `dbc_digest` writes the DBC's digest
(`protocols.can_digest`) so a decode starts without cantools, `can_text` compiles the CSV / JSON
text of each message and payload length, and `decode_stream` turns a capture
into CSV or JSON lines a block at a time, in constant memory.
Nothing here opens a bus or a port: capturing is `links.capture`'s job.
"""
