// Fleet: edge devices, enrollment tokens and revocation.
export { FleetPage } from './FleetPage';
