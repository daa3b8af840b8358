/** A second process appending to one tenant's audit chain as fast as it can: `node audit-appender.js DATABASE_URL TENANT COUNT`. */
import { AuditStore } from "../../src/audit/index.js";
import { openDatabase } from "../../src/store/index.js";

const [databaseUrl, tenantId, count] = process.argv.slice(2);
const db = await openDatabase({ databaseUrl });
const audit = new AuditStore(db);
const inFlight = 8;
let next = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next < Number(count)) {
      next++;
      await audit.append(tenantId!, { actorType: "system", actorId: `pid-${process.pid}`, action: "load.append", ip: "192.0.2.1" });
    }
  }),
);
await db.close();
