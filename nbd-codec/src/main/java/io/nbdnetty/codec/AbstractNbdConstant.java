package io.nbdnetty.codec;

/**
 * Base of the open value classes for protocol numbers (options, reply types, info types, commands, errors):
 * a number with a name, equal to any other instance of the same class with the same number, so unknown numbers
 * a peer sends are kept rather than rejected (like Netty's {@code DnsResponseCode}).
 *
 * @param <T> the concrete type
 */
public abstract class AbstractNbdConstant<T extends AbstractNbdConstant<T>> implements Comparable<T> {
    private final int code;
    private final String name;

    /**
     * Creates a constant.
     *
     * @param code the number on the wire
     * @param name the name from the spec, e.g. {@code NBD_OPT_GO}
     */
    protected AbstractNbdConstant(int code, String name) {
        this.code = code;
        this.name = name;
    }

    /**
     * Returns the number sent on the wire.
     *
     * @return the code
     */
    public final int code() {
        return code;
    }

    /**
     * Returns the name the spec gives this number, or a made-up one for an unknown number.
     *
     * @return the name
     */
    public final String name() {
        return name;
    }

    @Override
    public final int compareTo(T o) {
        return Integer.compareUnsigned(code, o.code());
    }

    @Override
    public final boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && ((AbstractNbdConstant<?>) o).code == code;
    }

    @Override
    public final int hashCode() {
        return code;
    }

    @Override
    public final String toString() {
        return name;
    }
}
