/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qga-account.c — guest-set-user-password and guest-ssh-{get,add,remove}-authorized-keys, inside
 * the account helper.
 *
 * Passwords: a plain password is hashed here with crypt(3)'s best method (crypt_gensalt: yescrypt
 * on Debian 12), then handed, like a crypted one, to `chpasswd -e` on its stdin (an argv, no
 * shell): shadow-utils does the locking and the atomic rewrite of /etc/shadow. The password is
 * never logged and its buffers are wiped.
 *
 * Keys: ~USER/.ssh/authorized_keys is read and written with the filesystem identity of USER
 * (setfsuid/setfsgid and the user's groups), so the user's own permissions apply and a symlink the
 * user planted leads nowhere the user could not go; the file is replaced atomically (a temporary file
 * and rename), ~/.ssh is created 0700 and the file 0600 when missing. */
#include "qga-privileged.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qga-verbs.h"

extern char **environ;

static const char *root_dir; /* test hook: passwd, shadow and homes under this directory */

void vd_qga_account_init(const char *root)
{
    root_dir = root;
}

typedef struct {
    char *name, *home;
    uid_t uid;
    gid_t gid;
} User;

static void user_clear(User *u)
{
    g_free(u->name);
    g_free(u->home);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(User, user_clear)

static gboolean lookup_user(const char *name, User *ret, GError **error)
{
    struct passwd *pw = NULL;
    FILE *f = NULL;
    if (root_dir) {
        g_autofree char *path = g_build_filename(root_dir, "etc", "passwd", NULL);
        f = fopen(path, "re");
        while (f && (pw = fgetpwent(f)) && !g_str_equal(pw->pw_name, name))
            ;
    } else {
        pw = getpwnam(name);
    }
    if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/') {
        if (f)
            fclose(f);
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "failed to lookup user '%s': no such user", name);
        return FALSE;
    }
    ret->name = g_strdup(pw->pw_name);
    ret->home = root_dir ? g_build_filename(root_dir, pw->pw_dir, NULL) : g_strdup(pw->pw_dir);
    ret->uid = pw->pw_uid;
    ret->gid = pw->pw_gid;
    if (f)
        fclose(f);
    return TRUE;
}

static gboolean valid_username(const char *name, GError **error)
{
    if (!*name || strlen(name) > VD_QGA_MAX_USERNAME || strpbrk(name, ":\n/") || name[0] == '-') {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "forbidden characters in username");
        return FALSE;
    }
    return TRUE;
}

/* --- guest-set-user-password --- */

static gboolean strict_base64(const char *s)
{
    gsize n = strlen(s);
    if (n % 4 != 0)
        return FALSE;
    for (gsize i = 0; i < n; i++) {
        char c = s[i];
        gboolean pad = c == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '=');
        if (!g_ascii_isalnum(c) && c != '+' && c != '/' && !pad)
            return FALSE;
    }
    return TRUE;
}

/* Writes "user:hash\n" to `chpasswd -e` and waits for it. */
static gboolean run_chpasswd(const char *line, GError **error)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "cannot create a pipe: %s", g_strerror(errno));
        return FALSE;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipefd[0], STDIN_FILENO);
    char *argv[] = {(char *) VD_QGA_CHPASSWD, (char *) "-e", NULL, NULL, NULL};
    if (root_dir) {
        argv[2] = (char *) "-R";
        argv[3] = (char *) root_dir;
    }
    pid_t pid;
    int rc = posix_spawn(&pid, VD_QGA_CHPASSWD, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipefd[0]);
    if (rc != 0) {
        close(pipefd[1]);
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "cannot run " VD_QGA_CHPASSWD ": %s",
                    g_strerror(rc));
        return FALSE;
    }
    gsize len = strlen(line), done = 0;
    while (done < len) {
        ssize_t n = write(pipefd[1], line + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (gsize) n;
    }
    close(pipefd[1]);
    int status = 0;
    gint64 deadline = g_get_monotonic_time() + (gint64) VD_QGA_CHPASSWD_TIMEOUT_S * G_USEC_PER_SEC;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && g_get_monotonic_time() < deadline)
        g_usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, VD_QGA_CHPASSWD " did not finish within %d s",
                    VD_QGA_CHPASSWD_TIMEOUT_S);
        return FALSE;
    }
    if (done != len || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC,
                    "child process has failed to set user password (" VD_QGA_CHPASSWD " status %d)", status);
        return FALSE;
    }
    return TRUE;
}

JsonNode *vd_qga_set_user_password(JsonObject *args, GError **error)
{
    const char *username = json_object_get_string_member(args, "username");
    const char *b64 = json_object_get_string_member(args, "password");
    gboolean crypted = json_object_get_boolean_member(args, "crypted");
    if (!valid_username(username, error))
        return NULL;
    if (strlen(b64) > VD_QGA_MAX_PASSWORD_BASE64 || !strict_base64(b64)) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC,
                    "Parameter 'password': not Base64, or longer than %d characters", VD_QGA_MAX_PASSWORD_BASE64);
        return NULL;
    }
    g_auto(User) user = {0};
    if (!lookup_user(username, &user, error))
        return NULL;
    gsize raw_len;
    guchar *raw = g_base64_decode(b64, &raw_len);
    char *password = g_strndup((const char *) raw, raw_len);
    explicit_bzero(raw, raw_len);
    g_free(raw);
    gboolean ok = FALSE;
    char *line = NULL;
    if (strlen(password) != raw_len || strpbrk(password, "\n")) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "forbidden characters in raw password");
    } else if (crypted && (strchr(password, ':') || !*password)) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "forbidden characters in crypted password");
    } else {
        const char *hash = password;
        struct crypt_data *data = NULL;
        if (!crypted) {
            data = g_new0(struct crypt_data, 1);
            char salt[CRYPT_GENSALT_OUTPUT_SIZE];
            if (!crypt_gensalt_rn(NULL, 0, NULL, 0, salt, sizeof(salt)) ||
                !(hash = crypt_r(password, salt, data)) || hash[0] == '*') {
                g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "cannot hash the password: %s",
                            g_strerror(errno));
                hash = NULL;
            }
        }
        if (hash) {
            line = g_strdup_printf("%s:%s\n", user.name, hash);
            ok = run_chpasswd(line, error);
        }
        if (data) {
            explicit_bzero(data, sizeof(*data));
            g_free(data);
        }
    }
    if (line) {
        explicit_bzero(line, strlen(line));
        g_free(line);
    }
    explicit_bzero(password, raw_len);
    g_free(password);
    if (!ok)
        return NULL;
    g_message("guest-set-user-password: the password of \"%s\" was changed (%s)", user.name,
              crypted ? "crypted" : "plain, hashed here");
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, json_object_new());
    return node;
}

/* --- authorized keys --- */

/* Switches the filesystem identity to the user's, and back. */
typedef struct {
    gid_t *groups;
    int n_groups;
} Identity;

static gboolean become(const User *u, Identity *saved, GError **error)
{
    saved->n_groups = getgroups(0, NULL);
    saved->groups = g_new0(gid_t, MAX(saved->n_groups, 1));
    if (saved->n_groups < 0 || getgroups(saved->n_groups, saved->groups) < 0 || setgroups(1, &u->gid) != 0) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "cannot take the groups of '%s': %s", u->name,
                    g_strerror(errno));
        g_free(saved->groups);
        return FALSE;
    }
    setfsgid(u->gid);
    setfsuid(u->uid);
    if ((uid_t) setfsuid((uid_t) -1) != u->uid) {
        setgroups((size_t) saved->n_groups, saved->groups);
        setfsgid(0);
        g_free(saved->groups);
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "cannot act as user '%s'", u->name);
        return FALSE;
    }
    return TRUE;
}

static void unbecome(Identity *saved)
{
    setfsuid(0);
    setfsgid(0);
    setgroups((size_t) saved->n_groups, saved->groups);
    g_free(saved->groups);
}

static char *keys_path(const User *u)
{
    return g_build_filename(u->home, ".ssh", "authorized_keys", NULL);
}

/* The file's lines, or an empty list when it does not exist. As the user. */
static GPtrArray *read_lines(const char *path, GError **error)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    GError *local = NULL;
    g_autofree char *text = vd_qga_read_file(path, VD_QGA_MAX_AUTHORIZED_KEYS_FILE, &local);
    if (!text) {
        if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
            g_error_free(local);
            return lines;
        }
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "%s", local->message);
        g_error_free(local);
        g_ptr_array_unref(lines);
        return NULL;
    }
    g_auto(GStrv) split = g_strsplit(text, "\n", -1);
    for (gsize i = 0; split[i]; i++) {
        if (split[i][0] || split[i + 1])
            g_ptr_array_add(lines, g_strdup(split[i]));
    }
    return lines;
}

static gboolean is_key_line(const char *line)
{
    const char *p = line;
    while (g_ascii_isspace(*p))
        p++;
    return *p && *p != '#';
}

static gboolean write_lines(const User *u, GPtrArray *lines, GError **error)
{
    g_autofree char *dir = g_build_filename(u->home, ".ssh", NULL);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "failed to create directory '%s': %s", dir,
                    g_strerror(errno));
        return FALSE;
    }
    g_autofree char *path = keys_path(u);
    g_autofree char *tmp = g_strdup_printf("%s.vdagent-XXXXXX", path);
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "failed to write to '%s': %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    GString *text = g_string_new(NULL);
    for (guint i = 0; i < lines->len; i++)
        g_string_append_printf(text, "%s\n", (const char *) g_ptr_array_index(lines, i));
    gboolean ok = write(fd, text->str, text->len) == (ssize_t) text->len && fsync(fd) == 0;
    int e = errno;
    g_string_free(text, TRUE);
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "failed to write to '%s': %s", path,
                    g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

static JsonArray *checked_keys(JsonObject *args, GError **error)
{
    JsonNode *node = json_object_get_member(args, "keys");
    JsonArray *keys = json_node_get_array(node);
    if (json_array_get_length(keys) > VD_QGA_MAX_AUTHORIZED_KEYS) {
        g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "Parameter 'keys': more than %d keys",
                    VD_QGA_MAX_AUTHORIZED_KEYS);
        return NULL;
    }
    for (guint i = 0; i < json_array_get_length(keys); i++) {
        JsonNode *e = json_array_get_element(keys, i);
        const char *k = JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING
                            ? json_node_get_string(e) : NULL;
        if (!k) {
            g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC,
                        "Invalid parameter type for 'keys', expected: array of strings");
            return NULL;
        }
        if (strchr(k, '\n') || strchr(k, '\r') || strlen(k) > VD_QGA_MAX_AUTHORIZED_KEY) {
            g_set_error(error, VD_QGA_ERROR, VD_QGA_ERROR_CODE_GENERIC, "invalid OpenSSH public key: '%.64s'", k);
            return NULL;
        }
    }
    return keys;
}

static gboolean in_array(JsonArray *keys, const char *line)
{
    for (guint i = 0; i < json_array_get_length(keys); i++) {
        if (g_str_equal(json_array_get_string_element(keys, i), line))
            return TRUE;
    }
    return FALSE;
}

static gboolean in_lines(GPtrArray *lines, const char *key)
{
    for (guint i = 0; i < lines->len; i++) {
        if (g_str_equal(g_ptr_array_index(lines, i), key))
            return TRUE;
    }
    return FALSE;
}

typedef enum { KEYS_GET, KEYS_ADD, KEYS_REMOVE } KeysOp;

static JsonNode *keys_op(JsonObject *args, KeysOp op, GError **error)
{
    const char *username = json_object_get_string_member(args, "username");
    if (!valid_username(username, error))
        return NULL;
    JsonArray *keys = op == KEYS_GET ? NULL : checked_keys(args, error);
    if (op != KEYS_GET && !keys)
        return NULL;
    g_auto(User) user = {0};
    if (!lookup_user(username, &user, error))
        return NULL;
    Identity saved;
    if (!become(&user, &saved, error))
        return NULL;
    g_autofree char *path = keys_path(&user);
    JsonNode *reset = op == KEYS_ADD ? json_object_get_member(args, "reset") : NULL;
    gboolean replace = reset && json_node_get_boolean(reset);
    /* reset: the old file is replaced unread (it may be unreadable: a symlink planted elsewhere). */
    g_autoptr(GPtrArray) lines = replace ? g_ptr_array_new_with_free_func(g_free) : read_lines(path, error);
    JsonNode *result = NULL;
    if (lines && op == KEYS_GET) {
        JsonArray *out = json_array_new();
        for (guint i = 0; i < lines->len; i++) {
            const char *l = g_ptr_array_index(lines, i);
            if (is_key_line(l) && g_utf8_validate(l, -1, NULL))
                json_array_add_string_element(out, l);
        }
        JsonObject *o = json_object_new();
        json_object_set_array_member(o, "keys", out);
        result = json_node_new(JSON_NODE_OBJECT);
        json_node_take_object(result, o);
    } else if (lines) {
        guint before = lines->len;
        if (op == KEYS_ADD) {
            for (guint i = 0; i < json_array_get_length(keys); i++) {
                const char *k = json_array_get_string_element(keys, i);
                /* Blank: skipped (virsh set-user-sshkeys sends the empty line after a file's last key). */
                if (*k && !in_lines(lines, k))
                    g_ptr_array_add(lines, g_strdup(k));
            }
        } else {
            for (guint i = lines->len; i-- > 0;) {
                if (in_array(keys, g_ptr_array_index(lines, i)))
                    g_ptr_array_remove_index(lines, i);
            }
        }
        gboolean changed = op == KEYS_ADD || lines->len != before;
        if (!changed || write_lines(&user, lines, error)) {
            result = json_node_new(JSON_NODE_OBJECT);
            json_node_take_object(result, json_object_new());
            g_message("%s: %s now has %u lines", op == KEYS_ADD ? "guest-ssh-add-authorized-keys"
                                                                : "guest-ssh-remove-authorized-keys",
                      path, lines->len);
        }
    }
    unbecome(&saved);
    return result;
}

JsonNode *vd_qga_ssh_get_authorized_keys(JsonObject *args, GError **error)
{
    return keys_op(args, KEYS_GET, error);
}

JsonNode *vd_qga_ssh_add_authorized_keys(JsonObject *args, GError **error)
{
    return keys_op(args, KEYS_ADD, error);
}

JsonNode *vd_qga_ssh_remove_authorized_keys(JsonObject *args, GError **error)
{
    return keys_op(args, KEYS_REMOVE, error);
}
