import { useEffect, useState } from 'preact/hooks';
import type { Store } from './frame';

/** Re-renders the component (at most once per frame) when the store changes. */
export function useStore<T>(store: Store<T>): T {
  const [, setVersion] = useState(store.version);
  useEffect(() => {
    let seen = store.version;
    setVersion(seen);
    return store.subscribe(() => {
      if (store.version !== seen) {
        seen = store.version;
        setVersion(seen);
      }
    });
  }, [store]);
  return store.get();
}
