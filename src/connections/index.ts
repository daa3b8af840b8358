export { Connections, CONNECTIONS_PATH, type StateRejection } from "./connections.js";
export { connectionEndpointsControl } from "./endpoints.js";
export { connectionsSchema, providerSchema, type ConnectionsPolicy, type ProviderPolicy } from "./schema.js";
export { ConnectionStore, type Connection } from "./store.js";
