// Asks an NBD server for the block status of its whole export in one request, with nbd-netty's client and its
// defaults (extended headers requested), and prints the extents: "offset length flags", one a line.
// Run: java -cp nbd-examples/target/nbd.jar scripts/ExtentsMap.java URI [CONTEXT]
import io.nbdnetty.client.NbdBlockStatus;
import io.nbdnetty.client.NbdClientConfig;
import io.nbdnetty.client.NbdConnection;
import io.nbdnetty.client.NbdExtent;
import io.nbdnetty.client.NbdHandle;
import io.nbdnetty.client.NbdUri;

public class ExtentsMap {
    public static void main(String[] args) throws Exception {
        String context = args.length > 1 ? args[1] : "base:allocation";
        try (NbdHandle h = NbdHandle.create(NbdClientConfig.builder().addMetaContext(context).build())) {
            NbdConnection c = h.connect(NbdUri.parse(args[0])).get();
            System.out.println("reply style: " + c.replyStyle());
            NbdBlockStatus s = c.blockStatus(0, c.size(), 0).get();
            for (NbdExtent e : s.extents(context)) {
                System.out.println(e.offset() + " " + e.length() + " " + e.flags());
            }
            c.disconnect().get();
        }
    }
}
