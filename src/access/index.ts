export { addressListControl, addressListsSchema, IpAccessList, tenantAddressListControl, TenantIpRuleStore, type IpRules } from "./ip-access.js";
