export { blockingControl, blockingSchema, ClientBlocking, type BlockingPolicy } from "./client-blocking.js";
