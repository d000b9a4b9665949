// ExportLines: reads data files the way OpenSearch Data Prepper and the ScyllaDB migrator read
// DynamoDB exports (java.util.zip.GZIPInputStream over a network stream) and prints how many
// lines they hold in all. The stream returns short reads (1..MAX bytes, seeded) and reports
// available() == 0, as a socket with nothing buffered does: GZIPInputStream before JDK 23 then
// stops silently after the first gzip member of a file, so a file must be ONE member.
//   java ExportLines SEED MAX FILE...
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.zip.GZIPInputStream;

public class ExportLines {
    static final class ShortReads extends InputStream {
        private final InputStream in;
        private final Random rnd;
        private final int max;

        ShortReads(InputStream in, Random rnd, int max) {
            this.in = in;
            this.rnd = rnd;
            this.max = max;
        }

        @Override public int read() throws IOException { return in.read(); }

        @Override public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            return in.read(b, off, Math.min(len, 1 + rnd.nextInt(max)));
        }

        @Override public int available() { return 0; }

        @Override public void close() throws IOException { in.close(); }
    }

    public static void main(String[] args) throws IOException {
        Random rnd = new Random(Long.parseLong(args[0]));
        int max = Integer.parseInt(args[1]);
        long lines = 0;
        for (int i = 2; i < args.length; i++) {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(
                    new GZIPInputStream(new ShortReads(new FileInputStream(args[i]), rnd, max)),
                    StandardCharsets.UTF_8))) {
                while (r.readLine() != null) lines++;
            }
        }
        System.out.println(lines);
    }
}
