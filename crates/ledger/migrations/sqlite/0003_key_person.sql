-- Keys belong to people: the person a key was issued to, case-folded, so one person's keys count
-- once in sign-offs however many they hold. Keys made before this column exist keep NULL and are
-- read as belonging to a person named after the key.
ALTER TABLE api_keys ADD COLUMN person TEXT;
