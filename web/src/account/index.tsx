// Mount point the account work fills in (owned by the uploads/sharing/account helper).
import { session } from "../api";

/** The "Account" route: photo, sessions, password. */
export function AccountPage() {
  const user = session.user();
  return <p>Signed in as {user?.email}.</p>;
}
