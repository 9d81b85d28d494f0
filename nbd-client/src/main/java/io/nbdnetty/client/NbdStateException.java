package io.nbdnetty.client;

/**
 * A call was made in a state that does not allow it, e.g. connecting a handle that is not newly created. Nothing was
 * sent and the handle is left as it was. The message follows libnbd's: {@code invalid state: ready: the handle must be
 * newly created}.
 */
public class NbdStateException extends NbdException {
    private static final long serialVersionUID = 1L;

    /** The state, part of the serial form. */
    private final NbdState state;

    /**
     * Creates an exception.
     *
     * @param state the state the handle was in
     * @param requirement what the call needs, e.g. "the handle must be newly created"
     */
    public NbdStateException(NbdState state, String requirement) {
        super("invalid state: " + state.description() + ": " + requirement);
        this.state = state;
    }

    /**
     * Returns the state the handle was in.
     *
     * @return the state
     */
    public NbdState state() {
        return state;
    }
}
