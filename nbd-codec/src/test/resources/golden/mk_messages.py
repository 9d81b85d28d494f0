#!/usr/bin/env python3
"""Rebuild messages.txt: hand-written notes (">>" lines, kept below) plus
decode_transcript.py output for selected transcripts.  usage: mk_messages.py"""
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)
sys.path.insert(0, HERE)
import decode_transcript as dt  # noqa: E402

NOTES = [
("nbdkit-memory-rw-structured.txt", """\
>> The reference case: fixed newstyle + NO_ZEROES, STRUCTURED_REPLY ACK,
>> SET_META_CONTEXT base:allocation (server assigns context ID 1), GO with
>> one NBD_INFO_EXPORT reply (nbdkit sends no INFO_BLOCK_SIZE although the
>> client asked for it), then every command once.
>> READ -> single OFFSET_DATA chunk with DONE (nbdkit never splits reads and
>> never sends OFFSET_HOLE, not even for the unwritten area at 1M).
>> WRITE/FLUSH/TRIM/WRITE_ZEROES/CACHE -> SIMPLE replies even though
>> structured replies were negotiated (allowed by proto.md; a client MUST
>> accept both).  BLOCK_STATUS -> one BLOCK_STATUS chunk with DONE.
>> Cookies are 1,2,3,... in request order (libnbd), DISC carries cookie 9."""),
("nbdkit-error-structured.txt", """\
>> READ fails -> NBD_REPLY_TYPE_ERROR (0x8001) with DONE, error EIO, message
>> length 0 (nbdkit sends no text and no ERROR_OFFSET).  WRITE fails ->
>> SIMPLE reply with error ENOSPC, although structured replies are on."""),
("nbdkit-error-simple.txt", """\
>> Same server, structured replies not requested: the failed READ is a
>> 16-byte simple reply with error 5 and NO payload (client must not wait
>> for 512 bytes of data)."""),
("nbdkit-readonly-eperm-structured.txt", """\
>> nbdkit -r: NBD_INFO_EXPORT flags include READ_ONLY; libnbd strict mode
>> was turned off so the WRITE reaches the wire; reply is a simple reply
>> with error 1 (EPERM).  The READ shows the pattern plugin's content
>> (8-byte big-endian offsets)."""),
("nbdkit-oldstyle-read.txt", """\
>> Oldstyle: 152-byte greeting (NBDMAGIC, cliserv_magic, size, 32-bit flags,
>> 124 zero bytes); the client sends no flags and no options, requests
>> follow at once.  SEND_DF is absent (no structured replies in oldstyle)."""),
("nbdkit-memory-opt-export-name.txt", """\
>> libnbd with handshake flags 0: client flags 0 (no C_FIXED_NEWSTYLE, no
>> C_NO_ZEROES), NBD_OPT_EXPORT_NAME "", and the server answers with the
>> header-less 134-byte block (size, flags, 124 zero bytes)."""),
("nbdkit-exportname-desc-nbdinfo-list.txt", """\
>> NBD_OPT_LIST -> one NBD_REP_SERVER per export (name length, name, then
>> the description in the rest of the reply), then NBD_REP_ACK.  nbdinfo then
>> sends OPT_INFO + LIST_META_CONTEXT per export and ends with OPT_ABORT,
>> which nbdkit ACKs.  INFO replies: EXPORT, NAME, DESCRIPTION."""),
("nbdkit-exportname-strict-unknown-nbdinfo.txt", """\
>> Unknown export with exportname-strict=true: NBD_REP_ERR_UNKNOWN with an
>> EMPTY message (length 0) to both OPT_INFO and OPT_GO; the session stays in
>> option haggling, the client sends OPT_ABORT and gets ACK.  The text
>> "No such file or directory for export: c" printed by nbdinfo is libnbd's
>> own.  Without exportname-strict nbdkit accepts any name (see
>> nbdkit-exportname-nonstrict-unknown-nbdinfo.txt)."""),
("nbdkit-nosr-optmode.txt", """\
>> nbdkit --no-sr: NBD_OPT_STRUCTURED_REPLY -> NBD_REP_ERR_UNSUP with no
>> message.  libnbd then refuses LIST_META_CONTEXT locally (nothing on the
>> wire), OPT_INFO asks only for BLOCK_SIZE (full_info off), OPT_GO,
>> and the READ gets a simple reply with 512 data bytes."""),
("nbdkit-data-nbdinfo-map.txt", """\
>> nbdinfo --map: SET_META_CONTEXT base:allocation (ID 1), one BLOCK_STATUS
>> request for the whole export (length 1048577, flags 0), answered by ONE
>> chunk with three extents: 32768 data (flags 0), 1015808 hole|zero (3),
>> 1 data (0).  nbdkit's data plugin allocates in 32 KiB pages."""),
("qemu-nbd-multichunk.txt", """\
>> qemu-nbd splits a READ across a hole/data boundary: OFFSET_HOLE (no DONE)
>> + OFFSET_DATA (DONE), or OFFSET_DATA + OFFSET_HOLE (DONE).  DONE rides on
>> the last data-bearing chunk; qemu sends no separate NONE chunk.  With DF
>> the same read is one OFFSET_DATA chunk.  BLOCK_STATUS with two contexts
>> -> one chunk per context, DONE on the second.  qemu numbers contexts
>> FIXED: base:allocation = ID 0 (!), qemu:allocation-depth = 1,
>> qemu:dirty-bitmap:b0 = 2, whatever was asked; so ID 0 is a valid ID.
>> With REQ_ONE each chunk has exactly one extent."""),
("qemu-nbd-nbdinfo-json.txt", """\
>> qemu-nbd INFO order is NAME, BLOCK_SIZE (1 / 4096 / 32 MiB), EXPORT --
>> NBD_INFO_EXPORT comes LAST (nbdkit sends it first).  No CAN_MULTI_CONN.
>> LIST_META_CONTEXT with no queries returns all three contexts with ID 0.
>> The READ of 8192@0 (a hole) is answered by one OFFSET_HOLE chunk."""),
("nbd-server-nbdinfo-json.txt", """\
>> nbd-server 3.24: offers NO_ZEROES; STRUCTURED_REPLY -> NBD_REP_ERR_UNSUP
>> with a message.  OPT_INFO reports export SIZE 0 (!) while OPT_GO for the
>> same export reports 1048576: do not trust INFO sizes from this server.
>> No INFO_BLOCK_SIZE / NAME / DESCRIPTION, only NBD_INFO_EXPORT."""),
("nbd-server-nbdinfo-list-denied.txt", """\
>> nbd-server without allowlist=true: NBD_OPT_LIST -> NBD_REP_ERR_POLICY
>> with a message.  nbdinfo gives up and closes without OPT_ABORT."""),
("nbd-server-opt-extended-headers-probe.txt", """\
>> Hand-made client (scripts/rawopt.py): only the S bytes are golden.
>> NBD_OPT_EXTENDED_HEADERS (11) -> NBD_REP_ERR_UNSUP with a message; then
>> NBD_OPT_ABORT gets NO reply: nbd-server just closes the socket."""),
]

out = io.StringIO()
out.write("""\
# messages.txt -- per-message decode of selected golden transcripts
#
# Produced by decode_transcript.py (this directory) and annotated by hand:
# lines starting with ">>" are hand-written notes; everything else is the
# decoder's output.  Regenerate the decoder part with
#     python3 decode_transcript.py TRANSCRIPT
# (add --full to see whole payloads, --summary for one line per message).
#
# Reading the output:
#   "S 00f5: <message> (N bytes, line L)" -- the message starts at byte 0x00f5
#       of the server->client stream, i.e. the concatenation of all "S <hex>"
#       records of the transcript ("C" likewise); its first byte arrived in
#       the record on transcript line L.  Cut bytes [0x00f5, 0x00f5+N).
#   "  hex: ..."      the message bytes (cut at 64 bytes; see --full)
#   "  S 0105 +16 <hex> <field> = <value>" -- field at stream offset 0x0105,
#       16 bytes into the message.  Field names follow proto.md.
#   Payload data longer than 32 bytes is shown as 16 bytes + "... (N bytes)".
# Messages are listed in wire order (interleaving C and S).
""")
for f, note in NOTES:
    out.write("\n" + "#" * 78 + "\n")
    out.write(note + "\n")
    dt.render(f, out=out)
open("messages.txt", "w").write(out.getvalue())
