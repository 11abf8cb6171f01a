/** Version this client reports (`incus version`, `incus --version`); kept equal to package.json. */
export const CLIENT_VERSION = '0.1.0';
