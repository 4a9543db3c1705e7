// Users: account management for administrators (users:manage).
export { UsersPage } from './UsersPage';
