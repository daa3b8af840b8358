import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";

/** A local identity provider: serves a key set that the test can rotate, and counts fetches. */
export class LocalIdp {
  keys: JWK[] = [];
  fetches = 0;
  server!: Server;
  url = "";

  async start() {
    this.server = createServer((_req, res) => {
      this.fetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
  }

  async newKey(kid: string, alg = "RS256") {
    const pair = await generateKeyPair(alg, { extractable: true });
    this.keys.push({ ...(await exportJWK(pair.publicKey)), kid, alg });
    return { ...pair, kid, alg };
  }
}

