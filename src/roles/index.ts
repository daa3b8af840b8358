export { RoleStore, rolesSchema, subjectOf, type RolesPolicy, type SubjectKind } from "./roles.js";
