import { after, before, describe } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { portcullisFastify } from "../../src/adapters/fastify.js";
import type { InProcessPortcullis } from "../../src/adapters/in-process.js";
import { adapterCases, adapterInstance, view } from "../helpers/adapter-cases.js";

describe("portcullis/fastify on Fastify 5", () => {
  let instance: InProcessPortcullis;
  let app: FastifyInstance;
  let url: string;
  before(async () => {
    instance = await adapterInstance();
    app = Fastify();
    await app.register(portcullisFastify, { instance });
    app.all("/*", async (request, reply) => {
      void reply.header("x-cost", "7");
      return { portcullis: view(request.portcullis), body: request.body ?? null };
    });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  });
  after(async () => {
    await app.close();
    await instance.close();
  });
  adapterCases("fastify", () => ({ url, instance }));
});
