package io.nbdnetty.codec;

/**
 * Magic numbers and fixed sizes of the NBD protocol (proto.md, "Protocol phases" and "Transmission").
 */
public final class NbdConstants {
    /** The default TCP port of NBD, 10809. */
    public static final int DEFAULT_PORT = 10809;

    /** "NBDMAGIC", the first 8 bytes every server sends (also called INIT_PASSWD). */
    public static final long NBDMAGIC = 0x4e42444d41474943L;
    /** "IHAVEOPT": second magic of the newstyle greeting, and the prefix of every option request. */
    public static final long IHAVEOPT = 0x49484156454F5054L;
    /** The second magic of the oldstyle greeting (cliserv_magic). */
    public static final long CLISERV_MAGIC = 0x00420281861253L;
    /** Prefix of every option reply. */
    public static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;

    /** Compact (28-byte) request header magic. */
    public static final int REQUEST_MAGIC = 0x25609513;
    /** Extended (32-byte) request header magic. */
    public static final int EXTENDED_REQUEST_MAGIC = 0x21e41c71;
    /** Simple reply magic. */
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    /** Structured reply chunk magic. */
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    /** Extended reply chunk magic. */
    public static final int EXTENDED_REPLY_MAGIC = 0x6e8a278c;

    /** Size of the oldstyle greeting: magic, cliserv magic, size, flags, 124 zero bytes. */
    public static final int OLDSTYLE_GREETING_LENGTH = 152;
    /** Size of the newstyle greeting: magic, IHAVEOPT, handshake flags. */
    public static final int NEWSTYLE_GREETING_LENGTH = 18;
    /** Size of the option request header: IHAVEOPT, option, length. */
    public static final int OPTION_REQUEST_HEADER_LENGTH = 16;
    /** Size of the option reply header: magic, option, reply type, length. */
    public static final int OPTION_REPLY_HEADER_LENGTH = 20;
    /** Size of the reply to NBD_OPT_EXPORT_NAME without its 124 zero bytes. */
    public static final int EXPORT_NAME_REPLY_LENGTH = 10;
    /** Number of zero bytes after the NBD_OPT_EXPORT_NAME reply unless NO_ZEROES was agreed. */
    public static final int EXPORT_NAME_REPLY_ZEROES = 124;

    /** Size of a compact request header. */
    public static final int REQUEST_HEADER_LENGTH = 28;
    /** Size of an extended request header. */
    public static final int EXTENDED_REQUEST_HEADER_LENGTH = 32;
    /** Size of a simple reply header. */
    public static final int SIMPLE_REPLY_HEADER_LENGTH = 16;
    /** Size of a structured reply chunk header. */
    public static final int STRUCTURED_REPLY_HEADER_LENGTH = 20;
    /** Size of an extended reply chunk header. */
    public static final int EXTENDED_REPLY_HEADER_LENGTH = 32;

    /** The longest string (export name, description, message) the protocol allows, in bytes of UTF-8. */
    public static final int MAX_STRING_LENGTH = 4096;

    private NbdConstants() {
    }
}
